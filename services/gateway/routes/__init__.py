"""The gateway's REST routes, one module per subject, each given what it needs when it is made."""
