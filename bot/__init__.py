"""Telegram layer and the ``newsbite`` command line of NewsBite QA."""
