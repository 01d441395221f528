"""agrilend.report."""

__all__: list[str] = []
