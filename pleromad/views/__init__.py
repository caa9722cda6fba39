"""Pure functions that turn plain values into the JSON entities clients see."""
