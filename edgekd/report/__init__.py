"""Reports: report.json (versioned schema), report.md and terminal tables."""
