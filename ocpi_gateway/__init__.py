"""ocpi_gateway: the OCPI 2.2 / 2.2.1 HTTP front end of an OCN node."""
