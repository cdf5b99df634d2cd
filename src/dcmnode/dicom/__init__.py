"""Build DICOM results and de-identify datasets."""
