"""Sparkify warehouse operators and helpers (import name ``sparkify``, lives in ``plugins/``).

Keep this module empty of imports: DAG files import only what they need from the submodules,
so parsing a DAG does not pay for operators it does not use.
"""
