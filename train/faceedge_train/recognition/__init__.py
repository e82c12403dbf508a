"""Face recognition: embedding networks converted from their published weights, the validation pairs
and open-set sets built from CelebA identities, and their measurement."""
