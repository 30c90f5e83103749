//! MongoDB stores in the layout of django-mongodb-backend. Not built yet: see issue 6.
