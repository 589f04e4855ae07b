"""What generated candidates may import."""
