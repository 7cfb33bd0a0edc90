"""Generated sample data with ground truth: partner days and legacy person sources."""
