print("demo: coming")
