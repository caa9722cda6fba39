"""The captcha providers shipped with pleromad, as Twisted plugins (see pleromad.plugins)."""

from pleromad.captcha.interface import ICaptchaProviderFactory
from pleromad.captcha.providers import KocaptchaProvider, NativeProvider, NoneProvider
from pleromad.plugins import NamedFactory

native = NamedFactory(ICaptchaProviderFactory, "native", NativeProvider.from_config)
kocaptcha = NamedFactory(ICaptchaProviderFactory, "kocaptcha", KocaptchaProvider.from_config)
none = NamedFactory(ICaptchaProviderFactory, "none", NoneProvider.from_config)
