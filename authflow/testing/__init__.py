"""Test kits shipped for people who build on authflow.

`authflow.testing.contract` holds the store contract: the tests every implementation
of the `Store` port must pass (authflow's own memory and SQLite stores run it, and so
can yours). It needs pytest and Hypothesis, which are test-time dependencies
(`pip install authflow[test]`); nothing here is imported by `import authflow`.
"""
