"""agrilend.credit."""

__all__: list[str] = []
