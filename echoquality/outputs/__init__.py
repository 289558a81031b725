"""Writers of results: the results CSV, masks and region maps, split-screen videos, recordings."""
