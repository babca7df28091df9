"""Platform adapters behind one small port; each SDK is imported only inside its own adapter."""
