"""Activity tests: real activity code against real local servers and databases."""
