"""Tools that measure Herald under faults: a fault-injecting proxy and the campaign harness."""
