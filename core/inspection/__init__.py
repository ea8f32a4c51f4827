"""Inspection, supervision and re-checks of the review (kiểm tra, giám sát, phúc tra)."""
