"""What people read: terminal tables, charts, HTML pages, CSVs and workbooks."""
