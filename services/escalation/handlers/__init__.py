"""The escalation service's consumer handlers, one module per message; ``registry`` maps each
payload class to its handler (the routing key comes from the contract). A handler takes an
:class:`~services.escalation.unit_of_work.EscalationUnit` (typed deps, repositories).
"""
