"""The intake service's consumer handlers, one module per message; ``registry`` maps each
payload class to its handler (the routing key comes from the contract), wrapped by
:func:`services.intake.unit_of_work.unit_handler`: a handler takes an
:class:`~services.intake.unit_of_work.IntakeUnit` and says what happened to the case.
"""
