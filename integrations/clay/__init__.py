"""Clay: rows into a table's webhook source (outbound)."""
