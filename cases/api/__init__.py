"""The read API under /api/v1/ (contract: DESIGN.md §4)."""
