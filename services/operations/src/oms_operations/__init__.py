"""The operations read side: projections over every service's topic and the dashboards."""
