"""The service's routes, one module per resource.

Each route parses, authorises, calls one function and shapes the answer.
"""
