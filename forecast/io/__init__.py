"""Read and validate: bundled data, tidy CSV, workbooks, data.police.uk street files and archives, populations."""
