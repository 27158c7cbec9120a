"""Test machinery shared by test modules and conftest files.

Everything a second module needs lives here, so that no test module imports another one or a conftest: conftest
files hold fixtures only, built from these helpers.
"""
