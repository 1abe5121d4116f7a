"""Department actions on a dispatch, one module each. Commands fail loudly: a refused
action raises InvalidTransition (409 with the reason) and changes nothing."""
