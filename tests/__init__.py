"""authflow's test suite. A package so that `from tests.shapes import ...` works however
pytest is started (pytest puts the repository root on sys.path for a package conftest)."""
