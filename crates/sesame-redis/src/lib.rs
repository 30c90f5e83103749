//! Redis session store in Django's cache formats. Not built yet: see issue 7.
