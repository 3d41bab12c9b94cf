"""The jobs the board asks for: a crime type's run, the winter plan, peer comparisons, experiments."""
