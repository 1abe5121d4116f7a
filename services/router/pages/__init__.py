"""The router's browser pages: web layer, as ``api/`` is (HTML rather than JSON).

``workbench/`` is the staff workbench (工作台: cases, triage queue, acting on a dispatch),
``console/`` the operations console (运行看板), ``signin`` the session sign-in both use.
They call the same use-case code as the API routes (``actions/``, ``triage``, ``case_search``).
"""
