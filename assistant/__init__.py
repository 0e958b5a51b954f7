"""exercise-coach: an offline, hands-free voice coach for osteoporosis strengthening exercises."""

__version__ = "0.1.0"
