"""The HTML map pages: data records for the browser, the Folium page, its static script and style."""
