// placeholder: kernels of this family land here
