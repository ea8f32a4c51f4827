"""Official report tables (Biểu mẫu 7.x) and household lists, aggregated in SQL, written to
Excel, with a chart of rates."""
