"""The notifier service's consumer handlers, one module per message; ``registry`` maps each
payload class to its handler (the routing key comes from the contract).

``Unit`` is what a handler gets: the consumer's unit of work with the service's typed deps.
"""

from services.notifier.deps import NotifierDeps
from shared.messaging.consumer import HandlerContext

Unit = HandlerContext[NotifierDeps]
