"""The notifier's consumer handlers, one module per message; ``registry`` maps each payload
class to its handler (the routing key comes from the contract). A handler takes a
:class:`~services.notifier.unit_of_work.NotifierUnit` (typed deps, repositories).
"""
