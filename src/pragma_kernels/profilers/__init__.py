"""Static CPU profilers: what the compiler did with a candidate, read without running it."""
