"""agrilend.parcels."""

__all__: list[str] = []
