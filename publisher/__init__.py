"""The bakeoff publisher: validate run directories, build the catalogue, exports and site."""
