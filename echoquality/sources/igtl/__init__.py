"""OpenIGTLink: the protocol, the receiver (a live source) and a scanner simulator."""
