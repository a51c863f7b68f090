/* Keeps the support library non-empty before any helper exists. */
typedef int rbgw_test_support_empty;
