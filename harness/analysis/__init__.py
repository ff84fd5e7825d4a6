"""Pure analyses of scored tables (pandas in, pandas out; nothing reads files or draws):
correlations with bootstrap intervals, top-k, transfer and agnostic tables, and the published
anchors they are compared with."""
