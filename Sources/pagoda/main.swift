import PagodaRules
print("pagoda")
