"""The partner portal: partners sign in with their own token, upload a file for one of their
sources, see the screener's findings in German, deliver it into the inbox, and follow their
deliveries through the pipeline (docs/portal.md)."""
