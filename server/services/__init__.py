"""Domain operations as async functions. They never see a Request.

Each takes the principal or plain values it needs, applies policy.py, writes
models and the audit log, and raises the error vocabulary of errors.py.
"""
