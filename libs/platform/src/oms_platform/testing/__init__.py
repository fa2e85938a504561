"""Test helpers shared by the platform and the services: contract suites, builders."""
