"""Captcha providers (Twisted plugins) and the checks registration runs."""
