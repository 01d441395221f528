"""agrilend.yield_models."""

__all__: list[str] = []
