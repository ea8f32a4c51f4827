"""Platform adapters: each turns its updates into (ChatRef, Incoming) and sends OutMessages."""
