"""The intake service's consumer handlers, one module per message; ``registry`` maps each
payload class to its handler (the routing key comes from the contract).

``Unit`` is what a handler gets: the consumer's unit of work with the service's typed deps.
"""

from services.intake.deps import IntakeDeps
from shared.messaging.consumer import HandlerContext

Unit = HandlerContext[IntakeDeps]
